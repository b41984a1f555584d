# One way to write a moment everywhere (admin lists, detail pages, our own pages): day, short
# month, year, 24-hour time and the time zone, e.g. "6 Dec 2026, 04:40 UTC".
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
