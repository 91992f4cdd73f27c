// Starts GraphiQL on /graphql (and its websocket for subscriptions). Put the access token in the
// Headers tab: {"Authorization": "Bearer <accessToken of signIn>"}.
(function () {
  var url = new URL("/graphql", window.location.href);
  var socket = url.href.replace(/^http/, "ws");
  var fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: socket });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true })
  );
})();
