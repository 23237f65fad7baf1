-- The names dialects know applications by (a kumusoft tag, a MOSIP appId, …), one table for every
-- dialect instead of a column each. An alias is unique per dialect server-wide, because the alias
-- alone selects the tenant; an application has at most one alias per dialect.
CREATE TABLE application_aliases (
    dialect TEXT NOT NULL,
    alias TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    PRIMARY KEY (dialect, alias),
    UNIQUE (application_id, dialect)
);
CREATE INDEX application_aliases_tenant ON application_aliases (tenant_id);

INSERT INTO application_aliases (dialect, alias, tenant_id, application_id)
    SELECT 'kumusoft', kumusoft_tag, tenant_id, id FROM applications WHERE kumusoft_tag IS NOT NULL;
INSERT INTO application_aliases (dialect, alias, tenant_id, application_id)
    SELECT 'mosip', mosip_app_id, tenant_id, id FROM applications WHERE mosip_app_id IS NOT NULL;

-- The old columns stay as they were, unread from here on: nodes of the previous version still
-- running during a rolling upgrade keep finding the applications they knew. (SQLite drops a
-- UNIQUE column only by rebuilding the table, which would cascade to everything that references
-- an application; a later migration may drop them once no such node can be left.)
