-- Headless Neovim smoke test for editors/nvim/expman.lua against a real
-- `expman lsp`. Run by tests/editors/nvim_smoke.sh, which sets:
--   EXPMAN_BIN   the expman binary
--   EXPMAN_REPO  the repository root
--   EXPMAN_TMP   an empty scratch directory
-- Exits 0 on success; otherwise prints what went wrong and exits 1.
-- Works on Neovim 0.7 (Debian 12) and newer.

local TIMEOUT_MS = 10000

-- Client objects grew methods in 0.11 (`client:stop()`); 0.7-0.10 use closures.
local methods = vim.fn.has('nvim-0.11') == 1
local get_clients = vim.lsp.get_clients or vim.lsp.get_active_clients
local function stop(client)
  if methods then client:stop() else client.stop() end
end
local function is_stopped(client)
  if methods then return client:is_stopped() end
  return client.is_stopped()
end

local function out(msg)
  io.stdout:write('nvim_smoke: ' .. msg .. '\n')
  io.stdout:flush()
end

local function lsp_log_tail()
  local ok, path = pcall(function()
    return require('vim.lsp.log').get_filename()
  end)
  if not ok or path == nil or vim.fn.filereadable(path) == 0 then
    return '(no LSP log)'
  end
  local lines = vim.fn.readfile(path)
  if #lines == 0 then
    return '(LSP log ' .. path .. ' is empty)'
  end
  local first = math.max(1, #lines - 20)
  return 'last lines of ' .. path .. ':\n' .. table.concat(vim.list_slice(lines, first, #lines), '\n')
end

local function messages()
  local text = vim.trim(vim.fn.execute('messages'))
  return text ~= '' and ('Neovim messages:\n' .. text) or '(no Neovim messages)'
end

-- Ends Neovim with `code`, stopping the language server first.
local function finish(code)
  for _, client in pairs(get_clients()) do
    stop(client)
  end
  vim.wait(1000, function()
    return next(get_clients()) == nil
  end, 50)
  vim.cmd(code == 0 and 'qall!' or ('cquit ' .. code))
end

local function fail(msg)
  error({ smoke = msg }, 0)
end

local function expman_clients(bufnr)
  local found = {}
  for _, client in pairs(get_clients()) do
    if client.name == 'expman' and vim.lsp.buf_is_attached(bufnr, client.id) then
      table.insert(found, client)
    end
  end
  return found
end

local function write_file(path, text)
  local f = assert(io.open(path, 'w'))
  f:write(text)
  f:close()
end

local function describe(diags)
  local parts = {}
  for _, d in ipairs(diags) do
    table.insert(parts, string.format('  line %d col %d severity %d: %s', d.lnum, d.col, d.severity, d.message))
  end
  return #parts > 0 and table.concat(parts, '\n') or '  (none)'
end

local function run()
  local bin = os.getenv('EXPMAN_BIN') or fail('EXPMAN_BIN is not set')
  local repo = os.getenv('EXPMAN_REPO') or fail('EXPMAN_REPO is not set')
  local dir = os.getenv('EXPMAN_TMP') or fail('EXPMAN_TMP is not set')
  out('Neovim ' .. tostring(vim.version().major) .. '.' .. vim.version().minor .. '.' .. vim.version().patch
    .. ', server ' .. bin)

  write_file(dir .. '/base.yaml', 'model: {dim: 512}\npipeline: {command: [python, train.py]}\n')
  write_file(dir .. '/trials.yaml', '- name: t\n  repeat: three\n  settings:\n    model: {dmi: 1}\n')

  vim.g.expman_path = bin
  vim.cmd('filetype on')
  dofile(repo .. '/editors/nvim/expman.lua')
  vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/trials.yaml'))
  local bufnr = vim.api.nvim_get_current_buf()
  if vim.bo[bufnr].filetype ~= 'yaml' then
    vim.bo[bufnr].filetype = 'yaml'
  end

  -- 1. A client starts and attaches.
  vim.wait(3000, function()
    return #expman_clients(bufnr) > 0
  end, 50)
  local client = expman_clients(bufnr)[1]
  if client == nil then
    fail("no running 'expman' language client attached to trials.yaml within 3 s; is '" .. bin
      .. "' an expman binary that starts? (messages and LSP log below)\n" .. messages() .. '\n' .. lsp_log_tail())
  end

  -- 2. Diagnostics: an error on the `repeat: three` line, a warning about `dmi`.
  local function find(diags)
    local repeat_error, dmi_warning
    for _, d in ipairs(diags) do
      if d.severity == vim.diagnostic.severity.ERROR and d.lnum == 1 then
        repeat_error = d
      end
      if d.severity == vim.diagnostic.severity.WARN and (d.lnum == 3 or d.message:find('dmi', 1, true)) then
        dmi_warning = d
      end
    end
    return repeat_error, dmi_warning
  end
  local stopped = false
  vim.wait(TIMEOUT_MS, function()
    if is_stopped(client) then
      stopped = true
      return true
    end
    local repeat_error, dmi_warning = find(vim.diagnostic.get(bufnr))
    return repeat_error ~= nil and dmi_warning ~= nil
  end, 100)
  if stopped then
    fail('the language server exited before publishing diagnostics\n' .. messages() .. '\n' .. lsp_log_tail())
  end
  local diags = vim.diagnostic.get(bufnr)
  local repeat_error, dmi_warning = find(diags)
  if repeat_error == nil or dmi_warning == nil then
    fail(string.format(
      'after %d ms expected an error on line 1 (`repeat: three`) and a warning about `dmi` (line 3); got:\n%s\n%s',
      TIMEOUT_MS, describe(diags), lsp_log_tail()))
  end
  out('diagnostics ok:\n' .. describe({ repeat_error, dmi_warning }))

  -- 3. Completion inside the trial's settings offers base.yaml's keys.
  vim.api.nvim_buf_set_lines(bufnr, 3, 4, true, { '    model:', '      ' })
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = 4, character = 6 },
    context = { triggerKind = 1 },
  }
  local responses, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/completion', params, TIMEOUT_MS)
  if responses == nil then
    fail('textDocument/completion got no answer: ' .. tostring(err))
  end
  local labels = {}
  local has_dim = false
  for _, response in pairs(responses) do
    if response.err or response.error then
      fail('textDocument/completion failed: ' .. vim.inspect(response.err or response.error))
    end
    local result = response.result
    local items = result and (result.items or result) or {}
    for _, item in ipairs(items) do
      table.insert(labels, item.label)
      if item.label == 'dim' then
        has_dim = true
      end
    end
  end
  if not has_dim then
    fail("completion at line 4, character 6 ('      ' under '    model:') did not offer `dim`; labels: "
      .. vim.inspect(labels))
  end
  out('completion ok: ' .. table.concat(labels, ', '))

  -- 4. Half-typed: a trial key being typed, no colon yet (`  re` where
  -- `repeat:` will go), after the trial's other keys.
  local last = vim.api.nvim_buf_line_count(bufnr)
  vim.api.nvim_buf_set_lines(bufnr, last, last, true, { '- name: u', '  re' })
  local half = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = last + 1, character = 4 },
    context = { triggerKind = 1 },
  }
  local answers, half_err = vim.lsp.buf_request_sync(bufnr, 'textDocument/completion', half, TIMEOUT_MS)
  if answers == nil then
    fail('textDocument/completion on a half-typed line got no answer: ' .. tostring(half_err))
  end
  local offered = {}
  for _, response in pairs(answers) do
    local result = response.result
    for _, item in ipairs(result and (result.items or result) or {}) do
      table.insert(offered, item.label)
    end
  end
  if not vim.tbl_contains(offered, 'repeat') then
    fail("completion on the half-typed line '  re' did not offer `repeat`; labels: " .. vim.inspect(offered))
  end
  out('half-typed completion ok: ' .. table.concat(offered, ', '))
end

local ok, err = pcall(run)
if ok then
  out('PASS')
  finish(0)
else
  local msg = type(err) == 'table' and err.smoke or ('Lua error: ' .. tostring(err))
  out('FAIL: ' .. msg)
  finish(1)
end
