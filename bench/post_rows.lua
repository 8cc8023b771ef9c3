-- wrk script: POST /rows with a small JSON payload.
wrk.method = "POST"
wrk.body = '{"payload":"wrk"}'
wrk.headers["Content-Type"] = "application/json"
