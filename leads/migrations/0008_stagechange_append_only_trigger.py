"""The stage log is append-only in the database too, on PostgreSQL.

The model refuses save() of an existing row and delete(), its queryset refuses update()
and delete(), and the admin grants no add/change/delete: that covers every path through
Django. This trigger also covers raw SQL, a psql session and any future code that gets
it wrong: an UPDATE or DELETE of a row of leads_stagechange raises an error. TRUNCATE
(reset_demo_data, the test runner's flush) is a table-level statement and is not
affected. A migration that must rewrite the log (there should be none) drops the trigger
first and says why. SQLite has no such guard: there the test runner and
reset_demo_data empty tables with DELETE.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION leads_stagechange_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'leads_stagechange is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS leads_stagechange_append_only ON leads_stagechange;
CREATE TRIGGER leads_stagechange_append_only
    BEFORE UPDATE OR DELETE ON leads_stagechange
    FOR EACH ROW EXECUTE FUNCTION leads_stagechange_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS leads_stagechange_append_only ON leads_stagechange;
DROP FUNCTION IF EXISTS leads_stagechange_append_only();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # the "%" in RAISE is no placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_flag_lead_created_at")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
