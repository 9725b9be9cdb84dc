"""Activities are append-only in the database too, on PostgreSQL, like the stage log
(leads 0008): an UPDATE or DELETE of a row of sales_activity, or of the objections it
carries, raises an error. TRUNCATE (reset_demo_data, the test runner's flush) is not
affected. A correction is a new row (Activity.corrects). SQLite has no such guard."""

from django.db import migrations

TABLES = ("sales_activity", "sales_objection")

CREATE = """
CREATE OR REPLACE FUNCTION sales_activity_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"""
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION sales_activity_append_only();
"""
    for table in TABLES
)

DROP = "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in TABLES) + (
    "DROP FUNCTION IF EXISTS sales_activity_append_only();\n"
)


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # the "%" in RAISE is no placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("sales", "0004_activity_logged_at_corrections")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
