-- Jobs succeeded: drop their leases, release their unique locks, and delete them (or keep them
-- for ARGV[2] ms in the completed set). One call acknowledges a whole batch of one queue.
-- KEYS: 1 lease zset, 2 completed zset, 3 stats hash
-- ARGV: 1 job prefix, 2 retention ms, then pairs: id, delivery token
-- Returns how many were acknowledged (stale deliveries are skipped).
local now = now_ms()
local retention = tonumber(ARGV[2])
local done = 0
for i = 3, #ARGV, 2 do
  local id, jk = ARGV[i], ARGV[1] .. ARGV[i]
  if not stale(jk, ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], id)
    local unique = redis.call('HGET', jk, 'unique')
    if unique and unique ~= '' and redis.call('GET', unique) == id then
      redis.call('DEL', unique)
    end
    if retention > 0 then
      redis.call('HSET', jk, 'state', 'completed', 'completed_at', now)
      redis.call('PEXPIRE', jk, retention)
      redis.call('ZADD', KEYS[2], now + retention, id)
    else
      redis.call('DEL', jk)
    end
    done = done + 1
  end
end
if retention > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
if done > 0 then redis.call('HINCRBY', KEYS[3], 'processed', done) end
return done
