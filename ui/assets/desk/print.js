// The print button of a form page (inline scripts are refused by the page's CSP).
document.getElementById('print')?.addEventListener('click', () => window.print());
