-- Jobs succeeded: drop their leases, release their unique locks, and forget them (or keep them
-- for ARGV[2] ms in the completed set). One call acknowledges a whole batch of one queue.
-- KEYS: 1 lease zset, 2 completed zset, 3 stats hash, 4 jobs hash
-- ARGV: 1 queue base, 2 retention ms, then triples: id, delivery token, unique lock key ('': the
--       job holds none, '?': look it up, for a job of jobqueue 0.1)
-- Returns the positions (1-based) of the triples refused as stale: they changed nothing.
local now = now_ms()
local base, retention = ARGV[1], tonumber(ARGV[2])
local done, stale = 0, {}
for i = 3, #ARGV, 3 do
  local id, lock = ARGV[i], ARGV[i + 2]
  if take_lease(KEYS[1], base, id, ARGV[i + 1]) then
    if lock == '?' then lock = unique_lock(KEYS[4], base, id) end
    unlock(lock, id)
    if retention > 0 then
      redis.call('HSET', attempt_key(base, id), 'completed_at', now)
      redis.call('ZADD', KEYS[2], now + retention, id)
    else
      forget(KEYS[4], base, id)
    end
    done = done + 1
  else
    stale[#stale + 1] = (i  / 3)
  end
end
if retention > 0 then trim_completed(KEYS[2], KEYS[4], base, now, 100) end
if done > 0 then redis.call('HINCRBY', KEYS[3], 'processed', done) end
if done > 0 then count_history(base, now, 'processed', done) end
if #stale > 0 then redis.call('HINCRBY', KEYS[3], 'stale', #stale) end
return stale
