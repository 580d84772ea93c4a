-- An operator's action on many jobs of one queue: run now (to pending, with a fresh retry
-- count), delete (releasing the unique lock), or kill (to dead, keeping the last error). The
-- jobs are given by id, or are a chunk of a state or of an error group, optionally filtered by
-- job type and error text. A running (active) job is never touched.
-- KEYS: 1 pending, 2 scheduled, 3 retry, 4 dead, 5 completed, 6 lease, 7 jobs, 8 stats
-- ARGV: 1 queue base, 2 action ('run' | 'delete' | 'kill'), 3 source ('ids', a state name, or
--       'group:<id>'), 4 offset (rank of the chunk in its source, oldest first), 5 chunk size,
--       6 job type ('' any), 7 error text, lower case ('' any), 8 dead max jobs, 9 dead max age
--       ms, 10 error for jobs killed without one, then the ids (source 'ids')
-- Returns {done, examined, next offset (-1: the source is exhausted), skipped as running}
local base, action, source = ARGV[1], ARGV[2], ARGV[3]
local offset, size = tonumber(ARGV[4]), tonumber(ARGV[5])
local want_type, want_error = ARGV[6], ARGV[7]
local now = now_ms()
local SETS = {scheduled = KEYS[2], retry = KEYS[3], dead = KEYS[4], completed = KEYS[5]}

local function state_of(id)
  if redis.call('ZSCORE', KEYS[6], id) then return 'active' end
  for _, name in ipairs({'scheduled', 'retry', 'dead', 'completed'}) do
    if redis.call('ZSCORE', SETS[name], id) then return name end
  end
  if exists(KEYS[7], base, id) then return 'pending' end
  return nil
end

local function job_type(id)
  local rec = redis.call('HGET', KEYS[7], id)
  if rec then return string.match(rec, '^([^\31]*)\31') end
  local ok, value = pcall(redis.call, 'HGET', attempt_key(base, id), 'type')
  if ok and value then return value end
  return nil
end

local function attempt(id, field)
  local ok, value = pcall(redis.call, 'HGET', attempt_key(base, id), field)
  if ok and value then return value end
  return nil
end

local function matches(id)
  if want_type ~= '' and job_type(id) ~= want_type then return false end
  if want_error ~= '' then
    local err = attempt(id, 'error')
    if not err or not string.find(string.lower(err), want_error, 1, true) then return false end
  end
  return true
end

-- Take a job out of where it waits (the pending list, or a set).
-- ('popped': already taken off the pending list by this script.)
local function take(id, state)
  if state == 'pending' then redis.call('LREM', KEYS[1], -1, id)
  elseif state ~= 'popped' then redis.call('ZREM', SETS[state], id) end
end

-- Carry out the action on one job; true if it did something.
local function act(id, state)
  if action == 'run' then
    if state ~= 'scheduled' and state ~= 'retry' and state ~= 'dead' then return false end
    take(id, state)
    ungroup(base, id)
    local ak = attempt_key(base, id)
    if redis.call('TYPE', ak).ok == 'hash' then redis.call('HSET', ak, 'retried', 0, 'lost', 0) end
    redis.call('LPUSH', KEYS[1], id)
  elseif action == 'delete' then
    take(id, state)
    release_unique(KEYS[7], base, id)
    ungroup(base, id)
    forget(KEYS[7], base, id)
  elseif action == 'kill' then
    if state == 'active' or state == 'dead' or state == 'completed' then return false end
    take(id, state)
    local err = attempt(id, 'error') or ARGV[10]
    bury(KEYS[4], KEYS[7], base, KEYS[8], id, err, attempt(id, 'traceback') or '', now,
      tonumber(ARGV[8]), tonumber(ARGV[9]))
  end
  return true
end

local ids, source_key, from_tail = {}, nil, false
if source == 'ids' then
  for i = 11, #ARGV do ids[#ids + 1] = ARGV[i] end
elseif source == 'pending' then
  from_tail = want_type == '' and want_error == '' and action ~= 'run'
  if from_tail then
    ids = redis.call('RPOP', KEYS[1], size) or {}
  else
    local chunk = redis.call('LRANGE', KEYS[1], -(offset + size), -(offset + 1))
    for i = #chunk, 1, -1 do ids[#ids + 1] = chunk[i] end  -- oldest first
  end
elseif string.sub(source, 1, 6) == 'group:' then
  source_key = base .. source .. ':jobs'
  ids = redis.call('ZRANGE', source_key, offset, offset + size - 1)
else
  source_key = SETS[source]
  ids = redis.call('ZRANGE', source_key, offset, offset + size - 1)
end

local in_group = source_key ~= nil and string.sub(source, 1, 6) == 'group:'
local done, kept, running = 0, 0, 0
for _, id in ipairs(ids) do
  local state
  if from_tail then
    if exists(KEYS[7], base, id) then state = 'popped' end  -- an id without a job is dropped
  else
    state = state_of(id)
  end
  if state == 'active' then
    running = running + 1
  elseif state and in_group and state ~= 'retry' and state ~= 'dead' then
    ungroup(base, id)  -- a member that left retry and dead without leaving its group
  elseif state and matches(id) and act(id, state) then
    done = done + 1
  end
  if source_key and redis.call('ZSCORE', source_key, id) then kept = kept + 1 end
end
if source == 'pending' and not from_tail then kept = #ids - done end
local nxt = offset + kept
if source == 'ids' or #ids < size then nxt = -1 end
return {done, #ids, nxt, running}
