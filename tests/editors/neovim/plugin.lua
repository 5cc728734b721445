--- The plugin without a server: the config `vim.lsp.enable` reads, what `setup()` adds to it, the
--- commands, the statusline and the picker's lines. Input: {statuses, suggestions, setup}.
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  local base = vim.lsp.config.galactica
  H.seen.base = {
    cmd = base.cmd,
    filetypes = base.filetypes,
    root_markers = base.root_markers,
    settings_json = vim.json.encode(base.settings),
    handlers = vim.tbl_keys(base.handlers or {}),
  }
  local galactica = require('galactica')
  galactica.setup(I.setup)
  local merged = vim.lsp.config.galactica
  H.seen.merged = { cmd = merged.cmd, settings = merged.settings, handlers = vim.tbl_keys(merged.handlers or {}) }
  H.seen.enabled = vim.lsp.is_enabled('galactica')
  H.seen.commands = vim.tbl_keys(vim.api.nvim_get_commands({}))

  -- The status handler as the server's notification reaches it.
  local events = {}
  vim.api.nvim_create_autocmd('User', {
    pattern = 'GalacticaStatus',
    callback = function(a) events[#events + 1] = a.data end,
  })
  H.seen.statuslines = {}
  for _, status in ipairs(I.statuses) do
    merged.handlers['galactica/status'](nil, status, { method = 'galactica/status', client_id = 1 })
    table.insert(H.seen.statuslines, galactica.statusline())
  end
  H.seen.events = #events
  H.seen.shown = vim.tbl_map(galactica.format_suggestion, I.suggestions)
end)
