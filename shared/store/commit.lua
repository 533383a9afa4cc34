-- One inbound message (or queued send), applied atomically.
-- KEYS: 1 conversation hash, 2 history list, 3 message hash, 4 reply hash, 5 conversation index,
--       6 reply counter of this user for this minute (abuse guard)
-- ARGV: 1 expected version, 2 conversation fields (JSON object), 3 message fields (JSON), 4 reply fields
--       (JSON or ""), 5 message id, 6 reply id, 7 history limit, 8 message TTL seconds, 9 index member,
--       10 replies allowed per minute (0: no limit), 11 error title of a rate-limited reply
-- Returns {"ok", version, limited} | {"dup", version, 0} | {"conflict", version, 0}; limited is 1 when the
-- reply was recorded as skipped because the user is over the limit.
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
if redis.call('HGET', KEYS[3], 'committed') == '1' then
  return {'dup', ver, 0}
end
if ver ~= tonumber(ARGV[1]) then
  return {'conflict', ver, 0}
end
ver = ver + 1
for k, v in pairs(cjson.decode(ARGV[2])) do
  redis.call('HSET', KEYS[1], k, v)
end
redis.call('HSET', KEYS[1], 'ver', ver)

local ttl = tonumber(ARGV[8])
local fresh = redis.call('EXISTS', KEYS[3]) == 0
for k, v in pairs(cjson.decode(ARGV[3])) do
  -- A send queued by the ingress keeps the status it was given; the commit only marks it committed.
  if fresh or k ~= 'status' then
    redis.call('HSET', KEYS[3], k, v)
  end
end
redis.call('HSET', KEYS[3], 'committed', '1')
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[3], 'reply_id', ARGV[6])
end
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('RPUSH', KEYS[2], ARGV[5])

local limited = 0
if ARGV[4] ~= '' then
  for k, v in pairs(cjson.decode(ARGV[4])) do
    redis.call('HSET', KEYS[4], k, v)
  end
  local limit = tonumber(ARGV[10])
  if limit > 0 and redis.call('HGET', KEYS[4], 'status') == 'pending' then
    local n = redis.call('INCR', KEYS[6])
    redis.call('EXPIRE', KEYS[6], 120)
    if n > limit then
      limited = 1
      redis.call('HSET', KEYS[4], 'status', 'skipped', 'error_title', ARGV[11])
      redis.call('HINCRBY', KEYS[1], 'rate_limited', 1)
    end
  end
  redis.call('EXPIRE', KEYS[4], ttl)
  redis.call('RPUSH', KEYS[2], ARGV[6])
end
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
redis.call('ZADD', KEYS[5], 0, ARGV[9])
return {'ok', ver, limited}
