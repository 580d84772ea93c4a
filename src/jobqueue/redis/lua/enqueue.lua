-- Enqueue jobs of one queue: for each, take the unique lock if asked, store the record, then
-- make it pending (or scheduled when it is due later). One call can carry a whole batch.
-- KEYS: 1 pending list, 2 scheduled zset, 3 jobs hash
-- ARGV: 1 queue base, 2 notify channel (published to when the queue was empty, to wake idle
--       workers), then 7 fields per job: id, job type, record tail, process_at ms (0: now),
--       delay ms from now (0: none), unique ttl ms (0: none), unique lock key
-- Returns {enqueued_at_ms, then per job: state ('pending' | 'scheduled') | 'duplicate <existing
-- id>' | 'conflict <id>'}: one flat string per job is the cheapest reply to build and to read.
local now = now_ms()
local base = ARGV[1]
local out = {tostring(now)}
local woke = false
for i = 3, #ARGV, 7 do
  local id, ttl, lock = ARGV[i], ARGV[i + 5], ARGV[i + 6]
  local reply
  if redis.call('HEXISTS', KEYS[3], id) == 1 or redis.call('EXISTS', attempt_key(base, id)) == 1 then
    reply = 'conflict ' .. id
  elseif ttl ~= '0' and not redis.call('SET', lock, id, 'NX', 'PX', ttl) then
    reply = 'duplicate ' .. (redis.call('GET', lock) or '')
  else
    redis.call('HSET', KEYS[3], id, ARGV[i + 1] .. '\31' .. now .. '\31' .. ARGV[i + 2])
    local due = tonumber(ARGV[i + 3])
    if ARGV[i + 4] ~= '0' then due = now + tonumber(ARGV[i + 4]) end
    if due > now then
      redis.call('ZADD', KEYS[2], due, id)
      reply = 'scheduled'
    else
      if redis.call('LPUSH', KEYS[1], id) == 1 then woke = true end
      reply = 'pending'
    end
  end
  out[#out + 1] = reply
end
if woke then redis.call('PUBLISH', ARGV[2], '1') end
return out
