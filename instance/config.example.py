# Copy to instance/config.py and adjust. Environment variables override these values:
# SECRET_KEY, DATABASE_URL, and SCREENING_<NAME> for any setting below.

# Required outside development: at least 32 random characters, the same for every worker.
#   python -c 'import secrets; print(secrets.token_urlsafe(48))'
SECRET_KEY = "replace-me"

# The data keys (health data is encrypted with them) are NOT set here: make run writes
# instance/keys.json (mode 0600); production can use SCREENING_DATA_KEYS instead.
# DATA_KEYS_FILE = "/etc/screening/keys.json"

# PostgreSQL in production (psycopg 3); SQLite in instance/ when unset.
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://screening@db.internal/screening?sslmode=verify-full"

# "production" (default) or "development" (plain-HTTP cookies, temporary secret allowed).
# ENVIRONMENT = "production"

# Days an unfinished questionnaire can be resumed after its last save.
# DRAFT_LIFETIME_DAYS = 30

# The clinic's time zone: ages are worked out on the clinic's calendar day.
# CLINIC_TIMEZONE = "America/New_York"
