"""All SQL lives here: connections, the group-commit writer, readers, migrations, and one
module per table family. Commands are plain functions of a `sqlite3.Connection`; the
writer runs them inside its transaction. Nothing outside this package writes SQL.
"""
