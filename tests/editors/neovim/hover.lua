--- `K` on a formula: Neovim's LSP hover float. Input: {file, text, line, col} (1-based line, 0-based col).
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  H.setup()
  H.open(I.file, I.text)
  vim.api.nvim_win_set_cursor(0, { I.line, I.col })
  H.type('K')
  H.seen.floats = H.wait(20000, function() local f = H.floats(); return #f > 0 and f end, 'the hover float')
end)
