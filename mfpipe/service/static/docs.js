// Swagger UI over this service's OpenAPI document (a file, as the CSP allows no inline script).
"use strict";
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
