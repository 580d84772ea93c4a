-- One page of the jobs of a queue in one state, optionally filtered by job type and error text:
-- examines at most ARGV[5] jobs from rank ARGV[3] on (oldest first, or newest first), and keeps
-- up to ARGV[4] of those that match.
-- KEYS: 1 the state's list (pending) or sorted set, 2 jobs
-- ARGV: 1 queue base, 2 '1' if KEYS[1] is the pending list, 3 offset, 4 limit, 5 most to
--       examine, 6 job type ('' any), 7 error text, lower case ('' any), 8 '1': newest first
-- Returns {next offset (-1: no more), ids...}
local base = ARGV[1]
local offset, limit, most = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local want_type, want_error, newest = ARGV[6], ARGV[7], ARGV[8] == '1'
local filtered = want_type ~= '' or want_error ~= ''
if not filtered then most = limit end

local function range(from, n)
  if ARGV[2] == '1' then
    if newest then return redis.call('LRANGE', KEYS[1], from, from + n - 1) end
    local chunk = redis.call('LRANGE', KEYS[1], -(from + n), -(from + 1))
    local out = {}
    for i = #chunk, 1, -1 do out[#out + 1] = chunk[i] end
    return out
  end
  if newest then return redis.call('ZREVRANGE', KEYS[1], from, from + n - 1) end
  return redis.call('ZRANGE', KEYS[1], from, from + n - 1)
end

local function matches(id)
  local ak = attempt_key(base, id)
  if want_type ~= '' then
    local rec = redis.call('HGET', KEYS[2], id)
    local jt = rec and string.match(rec, '^([^\31]*)\31')
    if not rec then
      local ok, value = pcall(redis.call, 'HGET', ak, 'type')
      jt = ok and value or nil
    end
    if jt ~= want_type then return false end
  end
  if want_error ~= '' then
    local ok, err = pcall(redis.call, 'HGET', ak, 'error')
    if not ok or not err or not string.find(string.lower(err), want_error, 1, true) then
      return false
    end
  end
  return true
end

local out = {-1}
local at, examined = offset, 0
while examined < most do
  local n = math.min(500, most - examined)
  local ids = range(at, n)
  for i, id in ipairs(ids) do
    if matches(id) then
      out[#out + 1] = id
      if #out - 1 >= limit then
        out[1] = at + i
        return out
      end
    end
  end
  examined = examined + #ids
  at = at + #ids
  if #ids < n then return out end
end
out[1] = at
return out
