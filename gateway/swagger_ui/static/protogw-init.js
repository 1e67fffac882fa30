// Starts Swagger UI on the spec named in the page's JSON config block (or, when the config lists
// several documents in "urls", with a picker over them, the first selected). The config is data, not
// code, so the server can fill it in without building JavaScript strings.
window.addEventListener("load", function () {
  var config = JSON.parse(document.getElementById("protogw-config").textContent);
  window.ui = SwaggerUIBundle({
    url: config.urls ? undefined : config.specUrl,
    urls: config.urls,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Keeps a pasted "Bearer <token>" across reloads of the page.
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
});
