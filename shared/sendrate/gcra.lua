-- Reserve capacity for one message (GCRA: each scope keeps its theoretical arrival time, tat, in microseconds
-- of Redis's clock, so every worker replica shares one clock and one state).
--
-- KEYS[1..nr]         scopes the message reserves a slot in (replies: number, account; bulk: the bulk lanes)
-- KEYS[nr+1..nr+nt]   scopes it must find free capacity in when its slot comes, without reserving (bulk: the
--                     number and account, so reserved replies go first)
-- KEYS[nr+nt+1]       the message's reservation, so a redelivery keeps its slot instead of taking another
-- ARGV[1] cost (segments), ARGV[2] nr, ARGV[3] nt, ARGV[4] how long a reservation outlives its slot (ms),
-- then per scope: interval (microseconds per segment, 0 = no rate) and burst (segments)
--
-- Each scope hash: tat, hold (nothing goes before it), f (rate factor after throttling), fu (f holds until).
-- Returns the wait in microseconds: 0 means capacity is taken and the message may be sent now.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local nr = tonumber(ARGV[2])
local nt = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local rsv = KEYS[nr + nt + 1]

local function fmt(x) return string.format('%.0f', x) end

local scopes = {}
for i = 1, nr + nt do
  local iv = tonumber(ARGV[3 + 2 * i])
  local burst = tonumber(ARGV[4 + 2 * i])
  local h = redis.call('HMGET', KEYS[i], 'tat', 'hold', 'f', 'fu', 'rb')
  local tat = tonumber(h[1]) or 0
  local hold = tonumber(h[2]) or 0
  local f = tonumber(h[3]) or 1
  local rb = tonumber(h[5]) or 0
  if f < 1 and (tonumber(h[4]) or 0) <= now then
    -- Recovered from throttling: the slots handed out at the lowered rate are dropped (rb marks them stale,
    -- so each waiting message takes a new slot when it comes back) and the configured rate applies from now.
    f, tat, rb = 1, math.min(tat, now), now
    redis.call('HSET', KEYS[i], 'f', '1', 'tat', fmt(tat), 'rb', fmt(rb))
  end
  -- Throttled lately: half the rate (or less) and no burst, so the scope probes one message at a time.
  if f < 1 then burst = 1 end
  iv = iv / f
  -- A message larger than the burst could never fit: it may use the whole bucket.
  local w = math.max(burst, n) * iv
  local s = math.max(now, hold)
  if iv > 0 then s = math.max(s, tat + n * iv - w) end
  scopes[i] = { tat = tat, iv = iv, hold = hold, rb = rb, s = s }
end

local function slot(from, to)
  local s = now
  for i = from, to do s = math.max(s, scopes[i].s) end
  return s
end

local function take(from, to, at)
  for i = from, to do
    local sc = scopes[i]
    if sc.iv > 0 then
      local nt2 = math.max(sc.tat, at) + n * sc.iv
      redis.call('HSET', KEYS[i], 'tat', fmt(nt2))
      redis.call('PEXPIRE', KEYS[i], math.ceil((math.max(nt2, sc.hold) - now) / 1000) + 600000)
    end
  end
end

local s
local held = redis.call('GET', rsv)
-- A reservation is "slot:made"; it is stale when a throttling hold overtook its slot or the rate was reset
-- after it was made.
local stale = false
if held then
  local slotv, made = string.match(held, '^(%d+):(%d+)$')
  s, made = tonumber(slotv) or 0, tonumber(made) or 0
  for i = 1, nr do stale = stale or scopes[i].hold > s or scopes[i].rb > made end
end
if held and not stale then
  -- Reserved before: keep the slot.
else
  -- New, or a throttling answer since then holds the scope past the slot: take the next slot, so messages
  -- held together do not all fire together when the hold ends.
  s = slot(1, nr)
  take(1, nr, s)
end
if s > now then
  if not held or stale then
    redis.call('SET', rsv, fmt(s) .. ':' .. fmt(now), 'PX', math.ceil((s - now) / 1000) + ttl)
  end
  return s - now
end
if nt > 0 then
  local st = slot(nr + 1, nr + nt)
  if st > now then
    redis.call('SET', rsv, fmt(now) .. ':' .. fmt(now), 'PX', ttl)
    return st - now
  end
  take(nr + 1, nr + nt, now)
end
redis.call('DEL', rsv)
return 0
