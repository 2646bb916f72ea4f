-- phonecert registry: API token scopes and login throttling per (client, account) (issue 18).
-- Portable between SQLite and PostgreSQL like 0001 and 0002.

-- What an API token may do, whatever its account's role allows beyond that:
--   ci    upload files, start runs and follow them (a manufacturer's CI, the default);
--   read  read submissions, runs and reports only;
--   full  every API action the account's role allows, but managing tokens.
-- No token manages tokens or opens the pages: that takes a logged-in session. Tokens made
-- before this migration get `ci`, the least that an upload pipeline needs.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'ci'
    CHECK (scope IN ('ci', 'read', 'full'));

-- Failed logins are now weighed per (client address, account) and per client address, never
-- per account alone (a stranger must not lock the owner out): the pair index serves the first
-- question, login_failures_client_at the second, and `at` alone the pruning of old rows.
-- `client` holds an IPv4 address or an IPv6 /64 prefix.
CREATE INDEX login_failures_pair ON login_failures (client, email, at);
CREATE INDEX login_failures_at ON login_failures (at);
DROP INDEX login_failures_email_at;
