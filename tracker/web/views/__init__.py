"""Views of the browser UI, one module per page group. They stay thin: parse with a form, call
a service or selector, render a page or an htmx fragment."""
