"""Phone intake: calls a call-taker answered on the tip line, each with a disposition."""
