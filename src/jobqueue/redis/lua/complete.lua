-- Jobs succeeded: drop their leases, release their unique locks, and forget them, or keep them
-- (and their results) for their result retention or ARGV[2] ms in the completed set. One call
-- acknowledges a whole batch of one queue.
-- KEYS: 1 lease zset, 2 completed zset, 3 stats hash, 4 jobs hash
-- ARGV: 1 queue base, 2 retention ms, then 5 fields per job: id, delivery token, unique lock key
--       ('': the job holds none, '?': look it up, for a job of jobqueue 0.1), result retention
--       ms ('0': not kept), result JSON
-- Returns the positions (1-based) of the jobs refused as stale: they changed nothing.
local now = now_ms()
local base, retention = ARGV[1], tonumber(ARGV[2])
local done, stale, kept = 0, {}, false
for i = 3, #ARGV, 5 do
  local id, lock, keep = ARGV[i], ARGV[i + 2], tonumber(ARGV[i + 3])
  if take_lease(KEYS[1], base, id, ARGV[i + 1]) then
    if lock == '?' then lock = unique_lock(KEYS[4], base, id) end
    unlock(lock, id)
    local until_ms = math.max(keep, retention)
    if until_ms > 0 then
      local ak = attempt_key(base, id)
      redis.call('HSET', ak, 'completed_at', now)
      if keep > 0 then redis.call('HSET', ak, 'result', ARGV[i + 4]) end
      redis.call('ZADD', KEYS[2], now + until_ms, id)
      kept = true
    else
      forget(KEYS[4], base, id)
    end
    announce(base, id, keep > 0)
    done = done + 1
  else
    stale[#stale + 1] = (i + 2) / 5
  end
end
if kept then trim_completed(KEYS[2], KEYS[4], base, now, 100) end
if done > 0 then redis.call('HINCRBY', KEYS[3], 'processed', done) end
if done > 0 then count_history(base, now, 'processed', done) end
if #stale > 0 then redis.call('HINCRBY', KEYS[3], 'stale', #stale) end
return stale
