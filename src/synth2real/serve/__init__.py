"""The demo's serving side: the models of a run and their card (`models`), the comparison
behind the page and the JSON API (`compare`), the page's HTML (`html`), the API routes (`api`),
and which run to serve when none is named (`runs`)."""
