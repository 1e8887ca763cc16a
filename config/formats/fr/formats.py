# One date format per language, used by every page (`|date:"SHORT_DATETIME_FORMAT"`…).
DATE_FORMAT = "j F Y"
SHORT_DATE_FORMAT = "d/m/Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATETIME_FORMAT = "D j b, H:i"
TIME_FORMAT = "H:i"
