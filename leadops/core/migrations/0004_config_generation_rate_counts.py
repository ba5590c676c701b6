"""The config generation (what every process's config cache is checked against) and the table
the API throttle counts in when the cache is the database.

`core_configgeneration` holds one number. A statement-level trigger on each table the caches
read (`config_watch` in core/config.py) sets it from a sequence in the changing transaction, so
it moves exactly when such a change commits, and a rolled-back change can never hand its number
to another one (sequences do not roll back): a cache filled from uncommitted data is never
mistaken for a committed state. Only the trigger function (the owner's) writes it.

`core_ratecount` is UNLOGGED: throttle windows are minutes long and need no crash safety.
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE core_configgeneration_seq;
CREATE TABLE core_configgeneration (
    id smallint PRIMARY KEY CHECK (id = 1),
    value bigint NOT NULL
);
INSERT INTO core_configgeneration (id, value) VALUES (1, nextval('core_configgeneration_seq'));

CREATE FUNCTION core_config_bump() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    UPDATE core_configgeneration SET value = nextval('core_configgeneration_seq') WHERE id = 1;
    RETURN NULL;
END;
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leadops_app') THEN
        REVOKE ALL ON core_configgeneration FROM leadops_app;
        GRANT SELECT ON core_configgeneration TO leadops_app;
    END IF;
END $$;

CREATE UNLOGGED TABLE core_ratecount (
    key varchar(200) NOT NULL,
    window_start bigint NOT NULL,
    count integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
"""

REVERSE = """
DROP TABLE IF EXISTS core_ratecount, core_configgeneration;
DROP FUNCTION IF EXISTS core_config_bump();
DROP SEQUENCE IF EXISTS core_configgeneration_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("core", "0003_job_scope_help")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=REVERSE)]
