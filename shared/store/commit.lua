-- One inbound message (or queued send), applied atomically.
-- KEYS (all in the conversation's hash slot on Redis Cluster): 1 conversation hash, 2 history list,
--       3 message hash, 4 reply hash, 5 this conversation's replies of the last minute (sorted set: reply id
--       scored by our clock, ms), 6 the message's record as an older version keyed it (dedup across the
--       upgrade; equals 3 when there is none, and always on a cluster, where no older version ran),
--       7 this conversation's reply texts of the loop window (hash: SHA-1 of the text -> times sent)
-- ARGV: 1 expected version, 2 conversation fields (JSON object), 3 message fields (JSON), 4 reply fields
--       (JSON or ""), 5 message id, 6 reply id, 7 history limit, 8 message TTL seconds,
--       9 replies allowed in any 60 s (0: no limit), 10 error title of a rate-limited reply, 11 now (our
--       clock, Unix ms), 12 sends of one text within the loop window (0: no loop guard), 13 loop window
--       seconds, 14 error title of a looping reply, 15 the reply's encoding and parts ("GSM-7|1") when it is
--       sent right after the commit, so a reply that stays pending is recorded as sending here (what
--       sending.lua does otherwise, one round trip later), or ""
-- The listing index and the ids' refs are in other slots: Store.Apply writes them in the same round trip.
-- Returns {"ok", version, skipped} | {"dup", version, ""} | {"conflict", version, "", the conversation hash as
-- HGETALL returns it}; skipped is "" or why
-- the reply was recorded as skipped instead of pending: "loop" or "rate_limited".
-- Each record is written with one HSET of all its fields, the history with one RPUSH.

-- hset writes the fields of obj (all strings) to key in one call, leaving out the field named skip.
local function hset(key, obj, skip)
  local args = {}
  for k, v in pairs(obj) do
    if k ~= skip then
      args[#args + 1] = k
      args[#args + 1] = v
    end
  end
  if #args > 0 then
    redis.call('HSET', key, unpack(args))
  end
end
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
if redis.call('HGET', KEYS[3], 'committed') == '1' then
  return {'dup', ver, ''}
end
if KEYS[6] ~= KEYS[3] then
  -- Only an inbound record of that version counts (ours carry telnyx_id), so no id reaches another's record.
  local old = redis.call('HMGET', KEYS[6], 'committed', 'dir', 'telnyx_id')
  if old[1] == '1' and old[2] == 'inbound' and not old[3] then
    return {'dup', ver, ''}
  end
end
if ver ~= tonumber(ARGV[1]) then
  -- The conversation as it is stored, so the caller can step again without reading it.
  return {'conflict', ver, '', redis.call('HGETALL', KEYS[1])}
end
ver = ver + 1
local conv = cjson.decode(ARGV[2])
conv['ver'] = tostring(ver)
hset(KEYS[1], conv, nil)

local ttl = tonumber(ARGV[8])
local msg = cjson.decode(ARGV[3])
msg['committed'] = '1'
if ARGV[6] ~= '' then
  msg['reply_id'] = ARGV[6]
end
-- A send queued by the ingress keeps the status it was given; the commit only marks it committed.
local keep = nil
if redis.call('EXISTS', KEYS[3]) == 1 then
  keep = 'status'
end
hset(KEYS[3], msg, keep)
redis.call('EXPIRE', KEYS[3], ttl)

local skipped = ''
if ARGV[4] ~= '' then
  -- The reply is decided first (skipped, or recorded as sending) and written once.
  local reply = cjson.decode(ARGV[4])
  if reply['status'] == 'pending' then
    local now = tonumber(ARGV[11])
    local limit, loops = tonumber(ARGV[9]), tonumber(ARGV[12])
    local sum = redis.sha1hex(reply['text'] or '')
    if loops > 0 and tonumber(redis.call('HGET', KEYS[7], sum) or '0') >= loops then
      skipped = 'loop'
      reply['status'], reply['error_code'], reply['error_title'] = 'skipped', 'loop', ARGV[14]
    elseif limit > 0 then
      -- Sliding window: the replies sent in the 60 s before now, whatever the minute.
      redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 60000)
      if redis.call('ZCARD', KEYS[5]) >= limit then
        skipped = 'rate_limited'
        reply['status'], reply['error_code'], reply['error_title'] = 'skipped', 'rate_limited', ARGV[10]
        redis.call('HINCRBY', KEYS[1], 'rate_limited', 1)
      else
        redis.call('ZADD', KEYS[5], now, ARGV[6])
        redis.call('PEXPIRE', KEYS[5], 60000)
      end
    end
    if skipped == '' and loops > 0 then
      redis.call('HINCRBY', KEYS[7], sum, 1)
      redis.call('EXPIRE', KEYS[7], tonumber(ARGV[13]))
    end
    if skipped == '' and ARGV[15] ~= '' then
      local sep = string.find(ARGV[15], '|', 1, true)
      reply['status'], reply['encoding'], reply['parts'] = 'sending', string.sub(ARGV[15], 1, sep - 1), string.sub(ARGV[15], sep + 1)
      reply['send_attempts'], reply['updated'] = '1', ARGV[11]
    end
  end
  hset(KEYS[4], reply, nil)
  redis.call('EXPIRE', KEYS[4], ttl)
  redis.call('RPUSH', KEYS[2], ARGV[5], ARGV[6])
else
  redis.call('RPUSH', KEYS[2], ARGV[5])
end
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
return {'ok', ver, skipped}
