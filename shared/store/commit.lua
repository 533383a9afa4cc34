-- One inbound message (or queued send), applied atomically.
-- KEYS (all in the conversation's hash slot on Redis Cluster): 1 conversation hash, 2 history list,
--       3 message hash, 4 reply hash, 5 this conversation's replies of the last minute (sorted set: reply id
--       scored by our clock, ms), 6 the message's record as an older version keyed it (dedup across the
--       upgrade; equals 3 when there is none, and always on a cluster, where no older version ran),
--       7 this conversation's reply texts of the loop window (hash: SHA-1 of the text -> times sent)
-- ARGV: 1 expected version, 2 3 4 how many ARGV entries hold the conversation's, the message's and the
--       reply's fields (0 for no reply), 5 message id, 6 reply id, 7 history limit, 8 message TTL seconds,
--       9 replies allowed in any 60 s (0: no limit), 10 error title of a rate-limited reply, 11 now (our
--       clock, Unix ms), 12 sends of one text within the loop window (0: no loop guard), 13 loop window
--       seconds, 14 error title of a looping reply, 15 the reply's encoding and parts ("GSM-7|1") when it is
--       sent right after the commit, so a reply that stays pending is recorded as sending here (what
--       sending.lua does otherwise, one round trip later), or "", 16 the SHA-1 (hex) of the reply's text, or
--       "" when there is no loop guard;
--       17 on: the fields, as name, value pairs: the conversation's, then the message's, then the reply's.
--       The message's and the reply's end with their status.
-- The fields arrive flat, not as JSON, so the script decodes nothing and builds no table of its own: each
-- record is written with one HSET straight from ARGV.
-- The listing index and the ids' refs are in other slots: Store.Apply writes them in the same round trip.
-- Returns {"ok", version, skipped} | {"dup", version, ""} | {"conflict", version, "", the conversation hash as
-- HGETALL returns it}; skipped is "" or why
-- the reply was recorded as skipped instead of pending: "loop" or "rate_limited".
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
-- An id means the record exists: a send the ingress queued.
local rec = redis.call('HMGET', KEYS[3], 'committed', 'id')
if rec[1] == '1' then
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
local c0 = 17
local m0 = c0 + tonumber(ARGV[2])
local r0 = m0 + tonumber(ARGV[3])
local rn = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'ver', tostring(ver), unpack(ARGV, c0, m0 - 1))

local ttl = tonumber(ARGV[8])
-- A send queued by the ingress keeps the status it was given (the message's last pair); the commit only marks
-- it committed.
local mlast = r0 - 1
if rec[2] then
  mlast = r0 - 3
end
redis.call('HSET', KEYS[3], unpack(ARGV, m0, mlast))
redis.call('EXPIRE', KEYS[3], ttl)

local skipped, n = '', 0
if rn > 0 then
  -- The reply's status (its last pair) is decided here: skipped, sending or as given.
  local reply = {unpack(ARGV, r0, r0 + rn - 3)}
  local status = ARGV[r0 + rn - 1]
  local function add(k, v)
    reply[#reply + 1] = k
    reply[#reply + 1] = v
  end
  if status == 'pending' then
    local now = tonumber(ARGV[11])
    local limit, loops = tonumber(ARGV[9]), tonumber(ARGV[12])
    local sum = ARGV[16]
    if loops > 0 and tonumber(redis.call('HGET', KEYS[7], sum) or '0') >= loops then
      skipped = 'loop'
      status = 'skipped'
      add('error_code', 'loop')
      add('error_title', ARGV[14])
    elseif limit > 0 then
      -- Sliding window: the replies sent in the 60 s before now, whatever the minute.
      redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 60000)
      if redis.call('ZCARD', KEYS[5]) >= limit then
        skipped = 'rate_limited'
        status = 'skipped'
        add('error_code', 'rate_limited')
        add('error_title', ARGV[10])
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
      status = 'sending'
      add('encoding', string.sub(ARGV[15], 1, sep - 1))
      add('parts', string.sub(ARGV[15], sep + 1))
      add('send_attempts', '1')
      add('updated', ARGV[11])
    end
  end
  add('status', status)
  redis.call('HSET', KEYS[4], unpack(reply))
  redis.call('EXPIRE', KEYS[4], ttl)
  n = redis.call('RPUSH', KEYS[2], ARGV[5], ARGV[6])
else
  n = redis.call('RPUSH', KEYS[2], ARGV[5])
end
if n > tonumber(ARGV[7]) then
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
end
return {'ok', ver, skipped}
