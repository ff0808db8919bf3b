"""Time rules, as DuckDB macros installed on every case connection.

The rules (docs/schema.md, "Time"):

* ISO 8601 / RFC 3339 text with ``Z`` or a numeric offset is read as given and converted to UTC.
* A bare 8- or 14-digit number that is a calendar date from 1971 to 2100 (``20260314``,
  ``20260314093000``) is that date in UTC, not an epoch (which would put it in 1970); the ingest notes it.
* Any other bare number is an epoch; its magnitude says the unit: below 1e11 seconds, below 1e14
  milliseconds, below 1e17 microseconds, otherwise nanoseconds. Fractions are kept to the microsecond.
* A naive timestamp (no zone) is read as UTC only when the caller passes ``naive_utc = true``,
  which a loader does only where its source defines its times as UTC. Otherwise it is not a time.
* Sub-microsecond digits are truncated, never rounded into the next second.

The session zone is also pinned to UTC, but no rule depends on it: naive text goes through
``timezone('UTC', ...)`` explicitly.
"""

from __future__ import annotations

import duckdb

_MACROS = r"""
CREATE OR REPLACE TEMP MACRO fx_epoch(s) AS (
    CASE
        WHEN regexp_full_match(s, '-?[0-9]{1,20}') THEN
            CASE
                WHEN abs(CAST(s AS HUGEINT)) < 100000000000 THEN make_timestamp(CAST(CAST(s AS HUGEINT) * 1000000 AS BIGINT))
                WHEN abs(CAST(s AS HUGEINT)) < 100000000000000 THEN make_timestamp(CAST(CAST(s AS HUGEINT) * 1000 AS BIGINT))
                WHEN abs(CAST(s AS HUGEINT)) < 100000000000000000 THEN make_timestamp(CAST(s AS BIGINT))
                ELSE make_timestamp(CAST(CAST(s AS HUGEINT) // 1000 AS BIGINT))
            END
        WHEN regexp_full_match(s, '-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?|-?[0-9]+[eE][+-]?[0-9]+') THEN
            CASE
                WHEN abs(CAST(s AS DOUBLE)) < 1e11 THEN make_timestamp(CAST(floor(CAST(s AS DOUBLE) * 1e6) AS BIGINT))
                WHEN abs(CAST(s AS DOUBLE)) < 1e14 THEN make_timestamp(CAST(floor(CAST(s AS DOUBLE) * 1e3) AS BIGINT))
                WHEN abs(CAST(s AS DOUBLE)) < 1e17 THEN make_timestamp(CAST(floor(CAST(s AS DOUBLE)) AS BIGINT))
                ELSE make_timestamp(CAST(floor(CAST(s AS DOUBLE) / 1e3) AS BIGINT))
            END
    END
);

CREATE OR REPLACE TEMP MACRO fx_iso_trim(s) AS
    regexp_replace(trim(s), '(\.[0-9]{6})[0-9]+', '\1');

CREATE OR REPLACE TEMP MACRO fx_has_zone(s) AS
    regexp_matches(trim(s), '([zZ]|[+-][0-9]{2}(:?[0-9]{2})?|\s(UTC|GMT))$')
    AND regexp_matches(trim(s), '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}');

CREATE OR REPLACE TEMP MACRO fx_is_naive(s) AS
    regexp_full_match(trim(s), '[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?');

-- Epoch nanoseconds as text (OTLP's *UnixNano fields: the unit is known, so no magnitude rule):
-- fx_unix_nanos_us -> BIGINT microseconds, truncated; fx_unix_nanos -> TIMESTAMPTZ, NULL unless positive.
CREATE OR REPLACE TEMP MACRO fx_unix_nanos_us(s) AS CAST(try_cast(s AS HUGEINT) // 1000 AS BIGINT);

CREATE OR REPLACE TEMP MACRO fx_unix_nanos(s) AS (
    CASE WHEN try_cast(s AS HUGEINT) > 0 THEN timezone('UTC', make_timestamp(fx_unix_nanos_us(s))) END
);

-- Range: a time must fall in the years 1 to 9999 UTC (year 0 and BC dates are not times any tool downstream
-- can show), and a UTC offset must lie within +-18:00 (ISO 8601 / RFC 3339 allow no more).
CREATE OR REPLACE TEMP MACRO fx_in_range(t) AS (
    CASE WHEN t >= TIMESTAMPTZ '0001-01-01 00:00:00+00' AND t < TIMESTAMPTZ '9999-12-31 23:59:59.999999+00' THEN t END
);

CREATE OR REPLACE TEMP MACRO fx_offset_ok(s) AS (
    coalesce(
        try_cast(regexp_extract(trim(s), '[+-]([0-9]{2}):?([0-9]{2})?$', 1) AS INTEGER) * 60
            + coalesce(try_cast(nullif(regexp_extract(trim(s), '[+-]([0-9]{2}):?([0-9]{2})?$', 2), '') AS INTEGER), 0),
        0) <= 18 * 60
);

-- A bare 8- or 14-digit number that is a calendar date from 1971 to 2100 (YYYYMMDD, YYYYMMDDhhmmss) is that
-- date, in UTC: as epoch seconds it would fall in 1970 (20260314 -> 1970-08-23), as milliseconds in the
-- 2600s. The ingest notes every file where this rule read a time (docs/schema.md, "Time").
CREATE OR REPLACE TEMP MACRO fx_ymd(s) AS (
    CASE WHEN strlen(s) = 8 AND regexp_full_match(s, '(19[7-9][0-9]|20[0-9]{2}|2100)(0[1-9]|1[0-2])[0-3][0-9]')
              AND s >= '19710101' THEN try_strptime(s, '%Y%m%d')
         WHEN strlen(s) = 14 AND regexp_full_match(s, '(19[7-9][0-9]|20[0-9]{2}|2100)(0[1-9]|1[0-2])[0-3][0-9][0-2][0-9][0-5][0-9][0-6][0-9]')
              AND s >= '19710101' THEN try_strptime(s, '%Y%m%d%H%M%S') END
);

-- fx_time(text, naive_utc) -> TIMESTAMPTZ, or NULL when the text is not a time under the rules.
CREATE OR REPLACE TEMP MACRO fx_time(s, naive_utc) AS (
    CASE
        -- the common case first, without a regular expression: RFC 3339 in UTC with at most six
        -- fraction digits ('2026-03-01T00:00:00.250Z'), which the rules below would read the same way
        -- (a year from 0001 to 9999, so always in range)
        WHEN strlen(s) BETWEEN 20 AND 27 AND s LIKE '____-__-__T%Z' AND NOT starts_with(s, '0000')
             AND try_cast(s AS TIMESTAMPTZ) IS NOT NULL
             THEN try_cast(s AS TIMESTAMPTZ)
        WHEN s IS NULL OR trim(s) = '' THEN NULL
        WHEN strlen(trim(s)) IN (8, 14) AND fx_ymd(trim(s)) IS NOT NULL THEN timezone('UTC', fx_ymd(trim(s)))
        WHEN regexp_full_match(trim(s), '-?[0-9.eE+]+') THEN fx_in_range(timezone('UTC', try(fx_epoch(trim(s)))))
        WHEN fx_has_zone(s) THEN CASE WHEN fx_offset_ok(s) THEN fx_in_range(try_cast(fx_iso_trim(s) AS TIMESTAMPTZ)) END
        WHEN fx_is_naive(s) AND naive_utc THEN fx_in_range(timezone('UTC', try_cast(fx_iso_trim(s) AS TIMESTAMP)))
        ELSE NULL
    END
);

-- fx_time_problem(text, naive_utc) -> why fx_time gave NULL (NULL when it did not).
CREATE OR REPLACE TEMP MACRO fx_time_problem(s, naive_utc) AS (
    CASE
        WHEN s IS NULL OR trim(s) = '' THEN 'no time field'
        WHEN fx_time(s, naive_utc) IS NOT NULL THEN NULL
        WHEN fx_is_naive(s) AND NOT naive_utc THEN 'naive timestamp (no zone) and the source does not define one'
        WHEN fx_has_zone(s) AND NOT fx_offset_ok(s) THEN 'UTC offset beyond +-18:00'
        WHEN fx_has_zone(s) AND try_cast(fx_iso_trim(s) AS TIMESTAMPTZ) IS NOT NULL
             OR regexp_full_match(trim(s), '-?[0-9.eE+]+') AND try(fx_epoch(trim(s))) IS NOT NULL
             OR fx_is_naive(s) AND try_cast(fx_iso_trim(s) AS TIMESTAMP) IS NOT NULL
             THEN 'time out of range (before year 1 or after 9999 UTC)'
        ELSE 'unparseable time'
    END
);
"""


def install_time_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Install the ``fx_time`` family of macros on a DuckDB connection."""
    for statement in _MACROS.split(";\n"):
        if statement.strip():
            con.execute(statement)
