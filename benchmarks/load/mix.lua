-- The load benchmark's request mix for wrk (Debian's wrk 4.1, LuaJIT).
--
-- Run with one connection per thread (-t N -c N): each thread is one closed-loop client, so the
-- request() and response() calls of a thread alternate and each response is timed against its own
-- request. Arguments after "--": data file, output directory, requests per thread, mode ("mix" or
-- "bare"), number of threads. The data file (written by benchmarks/load/wrk.py) holds tab-separated lines:
--   H host                       Host and Referer host
--   C session_cookie csrf_cookie password csrf_secret
--   S endpoint                   the mix schedule, cycled through (offset per thread)
--   U ip token session           users (session "-" when the user has none)
--   R thread user_index rec_id accept   a pending recommendation that thread answers (accept 1 or 0)
--   L thread username ip                 a user that thread signs in
-- The driver deals exactly the answers and sign-ins each thread's share of the schedule uses (thread k
-- starts the schedule at offset (k - 1) * 7, see benchmarks/load/mix.py thread_endpoints).
-- Each thread keeps "endpoint status start_us end_us" lines in the global `result`; done() writes
-- every thread's lines to <out>/results.tsv and wrk's socket errors to <out>/summary.tsv. A thread
-- that sent its share writes <out>/done-<id> and stops, so the driver can end wrk early.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } qa_load_timespec;
int clock_gettime(int clk_id, qa_load_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("qa_load_timespec")
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    fields[#fields + 1] = field
  end
  return fields
end

-- Main state: number the threads and keep them for done().
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  threads[#threads + 1] = thread
end

function init(args)
  data_path, out_dir, quota, mode = args[1], args[2], tonumber(args[3]), args[4]
  nthreads = tonumber(args[5])
  schedule, users, session_users, recs, logins = {}, {}, {}, {}, {}
  for line in io.lines(data_path) do
    local f = split(line)
    local kind = f[1]
    if kind == "H" then
      host = f[2]
    elseif kind == "C" then
      session_cookie, csrf_cookie, password, csrf_secret = f[2], f[3], f[4], f[5]
    elseif kind == "S" then
      schedule[#schedule + 1] = f[2]
    elseif kind == "U" then
      local user = { ip = f[2], token = f[3], session = f[4] }
      users[#users + 1] = user
      if user.session ~= "-" then
        session_users[#session_users + 1] = user
      end
    elseif kind == "R" and tonumber(f[2]) == id then
      recs[#recs + 1] = { user = tonumber(f[3]), id = f[4], accept = f[5] == "1" }
    elseif kind == "L" and tonumber(f[2]) == id then
      logins[#logins + 1] = { username = f[3], ip = f[4] }
    end
  end
  sent, done_count, next_rec, next_login = 0, 0, 1, 1
  offset = ((id - 1) * 7) % math.max(#schedule, 1)
  result = ""
  current, started, unanswered = "", 0, nil
end

local function api_headers(user)
  return {
    ["Authorization"] = "Token " .. user.token,
    ["Accept"] = "application/json",
    ["X-Forwarded-For"] = user.ip,
    ["X-Forwarded-Proto"] = "https",
  }
end

local function page_headers(user)
  return {
    ["Cookie"] = session_cookie .. "=" .. user.session,
    ["Accept"] = "text/html",
    ["X-Forwarded-For"] = user.ip,
    ["X-Forwarded-Proto"] = "https",
  }
end

local builders = {}

builders["bare"] = function(user)
  return wrk.format("GET", "/__bench__/bare", { ["X-Forwarded-For"] = user.ip, ["X-Forwarded-Proto"] = "https" })
end
builders["api_me"] = function(user)
  return wrk.format("GET", "/api/portfolio/me", api_headers(user))
end
builders["recommendations"] = function(user)
  return wrk.format("GET", "/api/portfolio/me/recommendations", api_headers(user))
end
builders["analytics"] = function(user)
  return wrk.format("GET", "/api/portfolio/me/analytics", api_headers(user))
end
builders["dashboard"] = function(user)
  local page_user = session_users[((sent - 1) * nthreads + id - 1) % #session_users + 1]
  return wrk.format("GET", "/portfolio/", page_headers(page_user))
end
builders["respond"] = function(user)
  local rec = recs[next_rec]
  next_rec = next_rec + 1
  local owner = users[rec.user]
  local headers = api_headers(owner)
  headers["Content-Type"] = "application/json"
  local body = rec.accept and '{"accept": true}' or '{"accept": false}'
  return wrk.format("POST", "/api/portfolio/me/recommendations/" .. rec.id .. "/respond", headers, body)
end
builders["login"] = function(user)
  local login = logins[next_login]
  next_login = next_login + 1
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = csrf_cookie .. "=" .. csrf_secret,
    ["Referer"] = "https://" .. host .. "/login/",
    ["X-Forwarded-For"] = login.ip,
    ["X-Forwarded-Proto"] = "https",
  }
  local body = "username=" .. login.username .. "&password=" .. password .. "&csrfmiddlewaretoken=" .. csrf_secret
  return wrk.format("POST", "/login/", headers, body)
end

-- wrk may ask for a request it then does not send (it asks once before the first request, and again
-- after reconnecting a broken connection): until a response arrives the same request is sent again,
-- so no answer or sign-in is used up unseen, and a retried answer is the idempotent repeat a client makes.
function request()
  if unanswered ~= nil then
    started = now_us()
    return unanswered
  end
  sent = sent + 1
  local endpoint = mode == "bare" and "bare" or schedule[(sent - 1 + offset) % #schedule + 1]
  -- One-use items ran out (the seeded pool was too small): the client reads its portfolio instead, recorded as such.
  if (endpoint == "respond" and next_rec > #recs) or (endpoint == "login" and next_login > #logins) then
    endpoint = "api_me"
  end
  local user = users[((sent - 1) * nthreads + id - 1) % #users + 1]
  current = endpoint
  unanswered = builders[endpoint](user)
  started = now_us()
  return unanswered
end

function response(status, headers, body)
  local finished = now_us()
  unanswered = nil
  done_count = done_count + 1
  result = result .. current .. "\t" .. status .. "\t" .. started .. "\t" .. finished .. "\n"
  if done_count >= quota then
    local marker = io.open(out_dir .. "/done-" .. id, "w")
    if marker then marker:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  -- done() runs in the main Lua state, where init() did not run: ask a thread for the directory.
  local out_dir = threads[1]:get("out_dir")
  local out = assert(io.open(out_dir .. "/results.tsv", "w"))
  for _, thread in ipairs(threads) do
    local lines = thread:get("result")
    if lines then out:write(lines) end
  end
  out:close()
  local errors = summary.errors
  local s = assert(io.open(out_dir .. "/summary.tsv", "w"))
  s:write(string.format("connect\t%d\nread\t%d\nwrite\t%d\ntimeout\t%d\nstatus\t%d\n",
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
  s:close()
end
