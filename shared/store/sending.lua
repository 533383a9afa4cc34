-- Record that a send of an outbound message is about to leave, so the window in which its outcome can be lost
-- (the request left, the answer never came back: a crash, a timeout, a 5xx) is known, not guessed.
-- KEYS: 1 message hash (the caller lists a held message: the index is in another hash slot)
-- ARGV: 1 encoding, 2 parts, 3 now (unix ms), 4 "hold" to hold a message found in that window
-- Returns {outcome, first}: outcome -1 no such message, 0 recorded as sending, 1 recorded as sending although
-- the previous attempt's outcome is unknown (a resend), 2 held as unknown (nothing may be sent); first is 1
-- the first time this message is found in the window.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {-1, 0}
end
local prev = redis.call('HGET', KEYS[1], 'status')
local outcome, first = 0, 0
if prev == 'sending' or prev == 'unknown' then
  first = redis.call('HSETNX', KEYS[1], 'unknown_at', ARGV[3])
  if ARGV[4] == 'hold' or prev == 'unknown' then
    redis.call('HSET', KEYS[1], 'status', 'unknown', 'updated', ARGV[3])
    return {2, first}
  end
  outcome = 1
end
redis.call('HSET', KEYS[1], 'status', 'sending', 'encoding', ARGV[1], 'parts', ARGV[2], 'updated', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'send_attempts', 1)
return {outcome, first}
