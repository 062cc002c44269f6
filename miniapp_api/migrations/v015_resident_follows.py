"""v015: ``resident.follows``, how many reports a resident follows, kept by the database.

"My reports" lists a resident's own reports and those they follow (我也遇到). Most residents
follow none, and the count, read with the bearer token's row, spares their list the query for
followed reports. Triggers on ``report_support`` keep it in the transaction of every change,
whoever writes the rows (the support service, a merge, plain SQL, a cascade): a row that
commits has counted, so a list never misses a followed report. SQLite's row triggers and
PostgreSQL's row triggers (and a statement trigger for ``TRUNCATE``) do the same.

Safe on a database that v001 created from the current models (new installs) and to run again:
the column is added only if missing, the triggers are dropped and created anew, and the count
is recomputed from the rows.
"""
from miniapp_api.db import is_postgres

VERSION = 15

_PLUS = 'UPDATE "resident" SET "follows" = "follows" + 1 WHERE "id" = NEW."resident_id"'
_MINUS = 'UPDATE "resident" SET "follows" = "follows" - 1 WHERE "id" = OLD."resident_id"'


def apply(db) -> None:
    """Apply this migration to ``db``."""
    if "follows" not in {c.name for c in db.get_columns("resident")}:
        db.execute_sql('ALTER TABLE "resident" ADD COLUMN "follows" INTEGER NOT NULL DEFAULT 0')
    if is_postgres():
        db.execute_sql(f"""
            CREATE OR REPLACE FUNCTION tongxin_follows_changed() RETURNS trigger AS $$
            BEGIN
              IF TG_OP IN ('UPDATE', 'DELETE') THEN {_MINUS}; END IF;
              IF TG_OP IN ('UPDATE', 'INSERT') THEN {_PLUS}; END IF;
              RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        db.execute_sql("""
            CREATE OR REPLACE FUNCTION tongxin_follows_cleared() RETURNS trigger AS $$
            BEGIN
              UPDATE "resident" SET "follows" = 0 WHERE "follows" <> 0;
              RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        db.execute_sql('DROP TRIGGER IF EXISTS "report_support_follows" ON "report_support"')
        db.execute_sql('DROP TRIGGER IF EXISTS "report_support_follows_truncate" ON "report_support"')
        db.execute_sql('CREATE TRIGGER "report_support_follows" AFTER INSERT OR DELETE OR UPDATE OF "resident_id" '
                       'ON "report_support" FOR EACH ROW EXECUTE FUNCTION tongxin_follows_changed()')
        db.execute_sql('CREATE TRIGGER "report_support_follows_truncate" AFTER TRUNCATE ON "report_support" '
                       'FOR EACH STATEMENT EXECUTE FUNCTION tongxin_follows_cleared()')
    else:
        for name, event, body in (("insert", "INSERT", _PLUS), ("delete", "DELETE", _MINUS),
                                  ("update", 'UPDATE OF "resident_id"', f"{_MINUS}; {_PLUS}")):
            db.execute_sql(f'DROP TRIGGER IF EXISTS "report_support_follows_{name}"')
            db.execute_sql(f'CREATE TRIGGER "report_support_follows_{name}" AFTER {event} ON "report_support" '
                           f'BEGIN {body}; END')
    db.execute_sql('UPDATE "resident" SET "follows" = (SELECT count(*) FROM "report_support" AS "s" '
                   'WHERE "s"."resident_id" = "resident"."id")')
