-- One inbound message (or queued send), applied atomically.
-- KEYS: 1 conversation hash, 2 history list, 3 message hash, 4 reply hash, 5 conversation index,
--       6 this conversation's replies of the last minute (sorted set: reply id scored by our clock, ms),
--       7 the message's record as an older version keyed it (dedup across the upgrade; may equal 3),
--       8 this conversation's reply texts of the loop window (hash: SHA-1 of the text -> times sent)
-- ARGV: 1 expected version, 2 conversation fields (JSON object), 3 message fields (JSON), 4 reply fields
--       (JSON or ""), 5 message id, 6 reply id, 7 history limit, 8 message TTL seconds, 9 index member,
--       10 replies allowed in any 60 s (0: no limit), 11 error title of a rate-limited reply, 12 now (our
--       clock, Unix ms), 13 sends of one text within the loop window (0: no loop guard), 14 loop window
--       seconds, 15 error title of a looping reply
-- Returns {"ok", version, skipped} | {"dup", version, ""} | {"conflict", version, ""}; skipped is "" or why
-- the reply was recorded as skipped instead of pending: "loop" or "rate_limited".
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
if redis.call('HGET', KEYS[3], 'committed') == '1' then
  return {'dup', ver, ''}
end
if KEYS[7] ~= KEYS[3] then
  -- Only an inbound record of that version counts (ours carry telnyx_id), so no id reaches another's record.
  local old = redis.call('HMGET', KEYS[7], 'committed', 'dir', 'telnyx_id')
  if old[1] == '1' and old[2] == 'inbound' and not old[3] then
    return {'dup', ver, ''}
  end
end
if ver ~= tonumber(ARGV[1]) then
  return {'conflict', ver, ''}
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

local skipped = ''
if ARGV[4] ~= '' then
  local reply = cjson.decode(ARGV[4])
  for k, v in pairs(reply) do
    redis.call('HSET', KEYS[4], k, v)
  end
  if redis.call('HGET', KEYS[4], 'status') == 'pending' then
    local now = tonumber(ARGV[12])
    local limit, loops = tonumber(ARGV[10]), tonumber(ARGV[13])
    local sum = redis.sha1hex(reply['text'] or '')
    if loops > 0 and tonumber(redis.call('HGET', KEYS[8], sum) or '0') >= loops then
      skipped = 'loop'
      redis.call('HSET', KEYS[4], 'status', 'skipped', 'error_code', 'loop', 'error_title', ARGV[15])
    elseif limit > 0 then
      -- Sliding window: the replies sent in the 60 s before now, whatever the minute.
      redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - 60000)
      if redis.call('ZCARD', KEYS[6]) >= limit then
        skipped = 'rate_limited'
        redis.call('HSET', KEYS[4], 'status', 'skipped', 'error_code', 'rate_limited', 'error_title', ARGV[11])
        redis.call('HINCRBY', KEYS[1], 'rate_limited', 1)
      else
        redis.call('ZADD', KEYS[6], now, ARGV[6])
        redis.call('PEXPIRE', KEYS[6], 60000)
      end
    end
    if skipped == '' and loops > 0 then
      redis.call('HINCRBY', KEYS[8], sum, 1)
      redis.call('EXPIRE', KEYS[8], tonumber(ARGV[14]))
    end
  end
  redis.call('EXPIRE', KEYS[4], ttl)
  redis.call('RPUSH', KEYS[2], ARGV[6])
end
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
redis.call('ZADD', KEYS[5], 0, ARGV[9])
return {'ok', ver, skipped}
