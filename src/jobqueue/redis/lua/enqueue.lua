-- Enqueue jobs of one queue: for each, take the unique lock if asked, store the job hash, then
-- make it pending (or scheduled when it is due later). One call can carry a whole batch.
-- KEYS: 1 pending list, 2 scheduled zset
-- ARGV: 1 job prefix, 2 notify channel (published to when the queue was empty, to wake idle
--       workers), then 9 fields per job: id, message, job type, process_at ms (0: now),
--       unique ttl ms (0: none), unique lock key, max_retry ('' = job type default),
--       timeout seconds (''), delay ms from now (0: none)
-- Returns {enqueued_at_ms, then per job: state ('pending' | 'scheduled') | 'duplicate <existing
-- id>' | 'conflict <id>'}: one flat string per job is the cheapest reply to build and to read.
local now = now_ms()
local queue = string.match(KEYS[1], '{(.*)}')
local out = {tostring(now)}
local woke = false
for i = 3, #ARGV, 9 do
  local id, jk = ARGV[i], ARGV[1] .. ARGV[i]
  local unique = ''
  local reply
  if redis.call('EXISTS', jk) == 1 then
    reply = 'conflict ' .. id
  elseif ARGV[i + 4] ~= '0' and not redis.call('SET', ARGV[i + 5], id, 'NX', 'PX', ARGV[i + 4]) then
    reply = 'duplicate ' .. (redis.call('GET', ARGV[i + 5]) or '')
  else
    if ARGV[i + 4] ~= '0' then unique = ARGV[i + 5] end
    local due = tonumber(ARGV[i + 3])
    if ARGV[i + 8] ~= '0' then due = now + tonumber(ARGV[i + 8]) end
    local state = 'pending'
    if due > now then
      state = 'scheduled'
      redis.call('ZADD', KEYS[2], due, id)
    else
      due = now
      if redis.call('LPUSH', KEYS[1], id) == 1 then woke = true end
    end
    redis.call('HSET', jk, 'msg', ARGV[i + 1], 'type', ARGV[i + 2], 'queue', queue,
      'state', state, 'enqueued_at', now, 'process_at', due, 'max_retry', ARGV[i + 6],
      'timeout', ARGV[i + 7], 'unique', unique, 'retried', 0, 'lost', 0)
    reply = state
  end
  out[#out + 1] = reply
end
if woke then redis.call('PUBLISH', ARGV[2], '1') end
return out
