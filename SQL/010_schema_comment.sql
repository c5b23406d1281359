-- 010_schema_comment.sql — the schema's comment names the reference that
-- ships with conveyor.
--
-- Why: 001 pointed integrators at a document outside this repository; the
-- SQL surface is now documented in docs/sql.md, which `\dn+` should name.

comment on schema conveyor is
    'conveyor: hands won clients to account managers and watches for attachment (reference: docs/sql.md)';
