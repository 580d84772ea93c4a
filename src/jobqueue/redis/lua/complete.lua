-- A job succeeded: drop its lease, release its unique lock, and delete it (or keep it for
-- ARGV[2] ms in the completed set).
-- KEYS: 1 job hash, 2 lease zset, 3 completed zset, 4 stats hash
-- ARGV: 1 id, 2 retention ms, 3 delivery token
if stale(KEYS[1], ARGV[3]) then return 0 end
local now = now_ms()
redis.call('ZREM', KEYS[2], ARGV[1])
local unique = redis.call('HGET', KEYS[1], 'unique')
if unique and unique ~= '' and redis.call('GET', unique) == ARGV[1] then
  redis.call('DEL', unique)
end
local retention = tonumber(ARGV[2])
if retention > 0 then
  redis.call('HSET', KEYS[1], 'state', 'completed', 'completed_at', now)
  redis.call('PEXPIRE', KEYS[1], retention)
  redis.call('ZADD', KEYS[3], now + retention, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
else
  redis.call('DEL', KEYS[1])
end
redis.call('HINCRBY', KEYS[4], 'processed', 1)
return 1
