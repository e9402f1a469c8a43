-- expman language server (`expman lsp`) for Neovim.
--
-- Paste into your init.lua, or load it from there:
--
--   vim.g.expman_path = '/path/to/expman' -- optional; default "expman" on PATH
--   dofile('/path/to/expman/editors/nvim/expman.lua')
--
-- The server is started for every YAML buffer and ignores YAML that is not an
-- expman config (env.yaml, experiment.yaml, base.yaml, trials.yaml and
-- single-file configs with top-level `base:`/`trials:`). The project root is
-- the nearest directory holding trials.yaml, else the file's own directory.
-- Neovim 0.11+ uses vim.lsp.config/vim.lsp.enable; 0.8-0.10 vim.lsp.start;
-- 0.7 vim.lsp.start_client + vim.lsp.buf_attach_client.

do
  local cmd = { vim.g.expman_path or 'expman', 'lsp' }

  -- Sent as initializationOptions and answered to workspace/configuration for
  -- section "expman". Each is "warning", "error" or "off".
  local settings = {
    expman = {
      diagnostics = {
        unknownKeys = 'warning',
        overrides = 'warning',
      },
    },
  }

  local uv = vim.loop

  local function is_file(path)
    local stat = uv.fs_stat(path)
    return stat ~= nil and stat.type == 'file'
  end

  -- The nearest directory above `fname` (a file path) holding trials.yaml
  -- (or trials.yml), else the file's directory.
  local function expman_root(fname)
    if fname == nil or fname == '' then
      return vim.fn.getcwd()
    end
    local start = vim.fn.fnamemodify(fname, ':p:h')
    local dir = start
    while true do
      if is_file(dir .. '/trials.yaml') or is_file(dir .. '/trials.yml') then
        return dir
      end
      local parent = vim.fn.fnamemodify(dir, ':h')
      if parent == dir then
        return start
      end
      dir = parent
    end
  end

  -- Checked once, so a missing binary gives one clear message instead of an
  -- error per YAML buffer.
  local executable
  local function check_executable()
    if executable == nil then
      executable = vim.fn.executable(cmd[1]) == 1
      if not executable then
        local msg = string.format(
          "expman: cannot run '%s lsp' (not found or not executable); "
            .. 'set vim.g.expman_path to the expman binary before loading editors/nvim/expman.lua',
          cmd[1]
        )
        -- Scheduled: an error written while :edit runs FileType autocmds is
        -- lost from :messages.
        vim.schedule(function()
          vim.notify(msg, vim.log.levels.ERROR)
        end)
      end
    end
    return executable
  end

  if vim.fn.has('nvim-0.11') == 1 then
    vim.lsp.config('expman', {
      cmd = cmd,
      filetypes = { 'yaml' },
      root_dir = function(bufnr, on_dir)
        if check_executable() then
          on_dir(expman_root(vim.api.nvim_buf_get_name(bufnr)))
        end
      end,
      settings = settings,
      init_options = settings.expman,
    })
    vim.lsp.enable('expman')
    -- vim.lsp.enable skips a missing binary with only a log line; say it.
    vim.api.nvim_create_autocmd('FileType', {
      pattern = 'yaml',
      once = true,
      callback = function()
        check_executable()
      end,
    })
  else
    local clients_by_root = {} -- Neovim 0.7 only: root dir -> client id

    local function attach(bufnr)
      if vim.bo[bufnr].buftype ~= '' or not check_executable() then
        return
      end
      local root = expman_root(vim.api.nvim_buf_get_name(bufnr))
      local config = {
        name = 'expman',
        cmd = cmd,
        root_dir = root,
        settings = settings,
        init_options = settings.expman,
      }
      if vim.lsp.start ~= nil then
        -- 0.8-0.10: reuses a running client with the same name and root_dir.
        vim.api.nvim_buf_call(bufnr, function()
          vim.lsp.start(config)
        end)
        return
      end
      local id = clients_by_root[root]
      local client = id and vim.lsp.get_client_by_id(id)
      if client == nil or client.is_stopped() then
        config.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
        id = vim.lsp.start_client(config)
        clients_by_root[root] = id
      end
      if id ~= nil then
        vim.lsp.buf_attach_client(bufnr, id)
      end
    end

    local group = vim.api.nvim_create_augroup('expman_lsp', { clear = true })
    vim.api.nvim_create_autocmd('FileType', {
      group = group,
      pattern = 'yaml',
      callback = function(args)
        attach(args.buf)
      end,
    })
    -- YAML buffers opened before this snippet ran.
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) and vim.bo[bufnr].filetype == 'yaml' then
        attach(bufnr)
      end
    end
  end
end
