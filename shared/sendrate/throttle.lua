-- Slow a scope down after Telnyx answered a throttling error: nothing goes before now + pause, and the rate is
-- halved (down to a floor) for the cooldown. Concurrent answers to requests already in flight are one signal,
-- not many: the rate is halved at most once per pause.
--
-- KEYS[1] scope hash; ARGV[1] pause (us), ARGV[2] cooldown (us), ARGV[3] floor factor.
-- Returns the rate factor now in force, in thousandths.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
local floor = tonumber(ARGV[3])

local function fmt(x) return string.format('%.0f', x) end

local h = redis.call('HMGET', KEYS[1], 'hold', 'f', 'fu', 'fl', 'tat')
local hold = tonumber(h[1]) or 0
local f = tonumber(h[2]) or 1
local fu = tonumber(h[3]) or 0
local fl = tonumber(h[4]) or 0
local tat = tonumber(h[5]) or 0
if fu <= now then f = 1 end
if now - fl >= pause then
  f = math.max(f / 2, floor)
  fl = now
end
hold = math.max(hold, now + pause)
fu = now + cooldown
redis.call('HSET', KEYS[1], 'hold', fmt(hold), 'f', tostring(f), 'fu', fmt(fu), 'fl', fmt(fl))
redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(hold, fu, tat) - now) / 1000) + 600000)
return math.floor(f * 1000)
