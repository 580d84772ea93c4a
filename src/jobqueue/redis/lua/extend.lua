-- Heartbeat: push the lease of jobs still running to now + ARGV[1] ms (only those still leased).
-- KEYS: 1 lease zset. ARGV: 1 lease ms, 2.. ids
local until_ms = now_ms() + tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', until_ms, ARGV[i])
end
return n
