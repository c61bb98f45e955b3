-- wrk script: 16 GETs pipelined in each write, as in TechEmpower's plaintext test.
-- Used by benches/load.sh for the plaintext-pipe16 scenario.
local depth = 16
init = function(args)
  local path = wrk.path
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("GET", path, {["Host"] = "localhost", ["Accept"] = "text/plain"})
  end
  req = table.concat(r)
end
request = function()
  return req
end
