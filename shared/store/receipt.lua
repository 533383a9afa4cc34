-- Apply a delivery status to an outbound message, never moving it backwards: a late "sent" does not
-- overwrite "delivered", and a final status (delivered, failed, blocked) stays final.
-- KEYS: 1 message hash
-- ARGV: 1 status, 2 rank of status, 3 error code, 4 error title, 5 updated (unix ms), 6 rank of every status
--       (JSON object; the Go side owns the table)
-- Returns 1 when applied, 0 when the message already had a status as far along, -1 when it does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local ranks = cjson.decode(ARGV[6])
local cur = ranks[redis.call('HGET', KEYS[1], 'status') or 'pending'] or 0
if tonumber(ARGV[2]) <= cur then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated', ARGV[5])
if ARGV[3] ~= '' or ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'error_code', ARGV[3], 'error_title', ARGV[4])
end
return 1
