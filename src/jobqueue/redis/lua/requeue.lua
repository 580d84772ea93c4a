-- Put jobs this worker holds back to the front of pending without counting a failure (used on
-- graceful shutdown). Only jobs whose lease this worker still holds are moved.
-- KEYS: 1 lease zset, 2 pending list. ARGV: 1 job prefix, 2.. ids
local n = 0
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i])
    redis.call('HSET', ARGV[1] .. ARGV[i], 'state', 'pending')
    n = n + 1
  end
end
return n
