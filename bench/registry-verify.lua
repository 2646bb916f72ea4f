-- wrk script for bench/registry.sh: every request is POST /api/v1/public/verify with the JSON
-- body {"certificate": "<jws>"} read from the file named by VERIFY_BODY (written by the script).
local path = os.getenv("VERIFY_BODY")
assert(path, "set VERIFY_BODY to the file holding the request body")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
