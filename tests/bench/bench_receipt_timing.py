"""Benchmark (not collected by pytest): timing of wrong receipt codes, and a tip with photos.

Run: .venv/bin/python -m tests.bench.bench_receipt_timing
"""

from __future__ import annotations

import statistics
import tempfile
import time

from tipline import create_app, db, migrations
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.attachments import PhotoLimits

from ..conftest import DATA_KEY, SECRET
from ..unit.test_media import jpeg_with_gps


def main() -> None:
    folder = tempfile.mkdtemp()
    app = create_app(
        {
            "SECRET_KEY": SECRET,
            "DATA_KEY": DATA_KEY,
            "INSTANCE_PATH": folder,
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
        }
    )
    key = receipts.receipt_key(SECRET)
    with app.app_context():
        migrations.upgrade(db.engine())
        session = db.session()
        for _ in range(500):
            tips.submit_tip(session, tips.TipReport("x"), key)
        session.commit()
        for label, code in [
            ("well-formed wrong code", "7K3M-QX9P-2D4F-HJ8R-WN5T"),
            ("malformed code", "nonsense"),
        ]:
            times = []
            for _ in range(2000):
                start = time.perf_counter()
                tips.find_by_receipt(session, key, code)
                times.append(time.perf_counter() - start)
            print(f"{label:<24} median {statistics.median(times) * 1e6:7.1f} µs")
        photos = [jpeg_with_gps((3000, 2000)) for _ in range(3)]
        start = time.perf_counter()
        tips.submit_tip(
            session, tips.TipReport("x"), key, photos=photos, data_key=DATA_KEY,
            photo_limits=PhotoLimits(),
        )  # fmt: skip
        session.commit()
        print(f"tip with 3 photos of 6 MP: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
