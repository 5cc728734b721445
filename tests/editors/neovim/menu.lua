--- The completion menu instead of ghost text (Neovim 0.11, or `galactica.inline = false`): type the
--- end of a line, open the menu with <C-x><C-o>, select the first entry with <C-n>, accept it with <C-y>.
--- Input: {file, before, after, typed, setup}.
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  H.setup()
  local buf = H.open(I.file, I.before .. I.after)
  H.seen.inline_enabled = vim.lsp.inline_completion.is_enabled({ bufnr = buf })
  H.seen.omnifunc = vim.bo[buf].omnifunc
  vim.api.nvim_win_set_cursor(0, { #vim.split(I.before, '\n'), 0 })
  H.type('A' .. I.typed)
  H.sleep(300)
  H.type('<C-x><C-o>')
  H.seen.menu = H.wait(20000, function()
    local info = vim.fn.complete_info({ 'pum_visible', 'items', 'selected' })
    return info.pum_visible == 1 and #info.items > 0 and info
  end, 'the completion menu')
  H.seen.ghost = H.ghost(buf)
  H.type(H.seen.menu.selected == -1 and '<C-n><C-y><Esc>' or '<C-y><Esc>') -- 'noselect': pick the first
  H.seen.text = H.text(buf)
end)
