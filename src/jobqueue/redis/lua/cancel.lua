-- Cancel a job: a waiting one (pending, scheduled, retry) is removed and kept as cancelled, its
-- unique lock released; a running one is marked (`cancel`) and its worker told on the `cancel`
-- channel, and its worker ends it cancelled (also when it finds the mark at a heartbeat, or
-- recovery does, should the worker have died).
-- KEYS: 1 pending, 2 scheduled, 3 retry, 4 lease, 5 dead, 6 completed, 7 jobs, 8 stats
-- ARGV: 1 queue base, 2 id, 3 dead max jobs, 4 dead max age ms
-- Returns 'cancelled' | 'stopping' | 'finished' | 'not_found'
local base, id = ARGV[1], ARGV[2]
if not exists(KEYS[7], base, id) then return 'not_found' end
if redis.call('ZSCORE', KEYS[5], id) or redis.call('ZSCORE', KEYS[6], id) then
  return 'finished'
end
local now = now_ms()
if redis.call('ZSCORE', KEYS[4], id) then
  if redis.call('HSETNX', attempt_key(base, id), 'cancel', now) == 1 then
    redis.call('PUBLISH', base .. 'cancel', id)
  end
  return 'stopping'
end
local removed = redis.call('ZREM', KEYS[2], id) + redis.call('ZREM', KEYS[3], id)
if removed == 0 then removed = redis.call('LREM', KEYS[1], 1, id) end
if removed == 0 then return 'not_found' end
bury(KEYS[5], KEYS[7], base, KEYS[8], id, 'cancelled', '', now, tonumber(ARGV[3]),
  tonumber(ARGV[4]), true)
announce(base, id, true)
return 'cancelled'
