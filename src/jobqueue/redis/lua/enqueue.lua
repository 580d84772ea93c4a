-- Enqueue one job: take the unique lock if asked, store the job hash, then make it pending
-- (or scheduled when it is due later).
-- KEYS: 1 job hash, 2 pending list, 3 scheduled zset, 4 unique lock (ignored when ARGV[6] is 0)
-- ARGV: 1 id, 2 message, 3 job type, 4 queue, 5 process_at ms (0: now), 6 unique ttl ms (0: none),
--       7 max_retry ('' = job type default), 8 timeout seconds (''), 9 delay ms from now (0: none),
--       10 notify channel (published to when the queue was empty, to wake idle workers)
-- Returns {'ok', state, enqueued_at_ms} | {'duplicate', existing id} | {'conflict', id}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'conflict', ARGV[1]}
end
local unique = ''
if ARGV[6] ~= '0' then
  if not redis.call('SET', KEYS[4], ARGV[1], 'NX', 'PX', ARGV[6]) then
    return {'duplicate', redis.call('GET', KEYS[4]) or ''}
  end
  unique = KEYS[4]
end
local now = now_ms()
local due = tonumber(ARGV[5])
if ARGV[9] ~= '0' then due = now + tonumber(ARGV[9]) end
local state = 'pending'
if due > now then
  state = 'scheduled'
  redis.call('ZADD', KEYS[3], due, ARGV[1])
else
  due = now
  if redis.call('LPUSH', KEYS[2], ARGV[1]) == 1 then
    redis.call('PUBLISH', ARGV[10], '1')
  end
end
redis.call('HSET', KEYS[1], 'msg', ARGV[2], 'type', ARGV[3], 'queue', ARGV[4], 'state', state,
  'enqueued_at', now, 'process_at', due, 'max_retry', ARGV[7], 'timeout', ARGV[8],
  'unique', unique, 'retried', 0, 'lost', 0)
return {'ok', state, tostring(now)}
