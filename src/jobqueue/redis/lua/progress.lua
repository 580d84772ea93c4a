-- A running job reports its progress: kept in its attempt hash while its delivery holds it.
-- KEYS: 1 lease zset. ARGV: 1 queue base, 2 id, 3 delivery token, 4 progress JSON (without
-- its time, which is the server's: the script appends it)
-- Returns 1, or 0 when the delivery no longer holds the job.
local base, id = ARGV[1], ARGV[2]
if not held(KEYS[1], base, id, ARGV[3]) then return 0 end
redis.call('HSET', attempt_key(base, id), 'progress', ARGV[4] .. ',"t":' .. now_ms() .. '}')
return 1
