"""Demo mode: `vitaltrust serve --demo` seeds a demo organisation and keeps it alive."""
