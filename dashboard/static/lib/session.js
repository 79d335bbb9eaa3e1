// Who is using the page: the user's language, the logged-in user (from /api/me: name, role,
// CSRF token...) and the site (/api/site: name, time zone, language). Filled by boot.js (or
// the login page) before a page's own code runs; every module reads the same object.

export const M = { lang: "vi", me: null, site: null };
