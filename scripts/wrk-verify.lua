-- wrk script: POST /v1/verify with the evidence in $QUOTE (default quote.cose), read once, as $CONTENT_TYPE
-- (default a Cloister quote, application/vnd.cloister.quote+cose).
-- Throughput: wrk -t2 -c64 -d10s --latency -s scripts/wrk-verify.lua http://127.0.0.1:8080/v1/verify
-- Paced (about 1,000 requests/s offered by 10 connections): WRK_DELAY_MS=8 wrk -t2 -c10 ... (latency counts from
-- sending a request to its response, not the pause before it).
local file = assert(io.open(os.getenv("QUOTE") or "quote.cose", "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/vnd.cloister.quote+cose"

local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if pause > 0 then
    function delay()
        return pause
    end
end
